"""The situation document, its Japanese text and its map, one module each (summary.py is the
public face):
  common.py   schema id, words, settings, the Situation holder, time and credit helpers
  build.py    database reads, the analyses and the document's sections
  text_ja.py  the Japanese report
  map.py      the PNG map
"""
