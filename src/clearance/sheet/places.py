"""The county of a step's agency, from the agency's name as a rap sheet prints it.

Courts, sheriffs, coroners and probation departments print the county after their
prefix (``CASC LOS ANGELES CENTRAL``, ``CASC SAN FRANCISCO CO``): the longest of
California's 58 counties the rest starts with, else the rest itself (a court of a
county this list lacks). A police department prints its city (``CAPD FOLSOM``):
the county of that city, when the city is known. Otherwise no county: never a guess.
"""

from __future__ import annotations

from functools import cache

from clearance.sheet.rules import LAYOUT
from clearance.synth.tables import CITIES, COUNTIES


@cache
def _city_county() -> dict[str, str]:
    return {city: county for county, cities in CITIES.items() for city in cities}


def county_of(agency: str | None) -> str | None:
    """The county an agency's name places it in, or None."""
    if not agency:
        return None
    prefix, _, rest = " ".join(agency.split()).upper().partition(" ")
    if not rest:
        return None
    if prefix in LAYOUT.county_prefixes:
        for county in sorted(COUNTIES, key=len, reverse=True):
            if rest == county or rest.startswith(county + " "):
                return county
        return rest.removesuffix(" CO").strip() or None
    if prefix == "CAPD":
        return _city_county().get(rest)
    return None
