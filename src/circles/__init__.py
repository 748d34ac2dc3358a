"""circles: 15-minute community life circle planner.

Routing core (exact network travel times, isochrones), coverage and gap lists per community,
candidate sites, maps and exports. Map data © OpenStreetMap contributors (ODbL).
"""

__version__ = "0.1.0"

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
