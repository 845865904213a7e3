"""The municipality profile: who this desk serves (name, reading, English name, 団体コード, JIS X
0402 code, prefecture, JMA area code, outline), kept in the one ``municipality`` row.

  table.py        the national table of every municipality and 政令市 ward, and the look-up
  profile.py      read, set and check the profile; read an N03 outline
  cli.py          `disaster-ai municipality show|set` (and the --municipality option of init)
  web.py          the admin page /admin/municipality
  build_table.py  rebuilds data/municipalities.csv (data/SOURCES.md: sources and licences)
"""

from disaster_ai.municipality.profile import (  # noqa: F401
    PROFILE_KEYS,
    ProfileMissing,
    ProfileProblem,
    current,
    profile_dict,
    require,
)
