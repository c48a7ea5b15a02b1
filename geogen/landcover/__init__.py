"""Land-cover classes for sketch conditions: vocabularies, colour rendering, user mappings, fallbacks."""

from geogen.landcover.fallback import closest_available, substitutions
from geogen.landcover.mapping import ClassMapping, check_codes, code_lookup, load_mapping
from geogen.landcover.vocab import (
    FLAIR19,
    NODATA,
    LandCoverClass,
    Vocabulary,
    class_names,
    classes_from_condition,
    get_vocabulary,
    render_condition,
)

__all__ = [
    "FLAIR19",
    "NODATA",
    "ClassMapping",
    "LandCoverClass",
    "Vocabulary",
    "check_codes",
    "class_names",
    "classes_from_condition",
    "closest_available",
    "code_lookup",
    "get_vocabulary",
    "load_mapping",
    "render_condition",
    "substitutions",
]
