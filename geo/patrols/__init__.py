"""Patrols (巡河): river chiefs' GPS tracks, the reaches they cover, and their duty.

One module per step, in the order an import runs them:

- :mod:`geo.patrols.tracks` reads GPX, KML/KMZ, CSV and XLSX into :class:`Track` objects;
- :mod:`geo.patrols.clean` converts offset datums and drops GPS jumps, repeated
  timestamps and fixes outside the district, saying what it dropped;
- :mod:`geo.patrols.validity` judges a patrol by the plan file's rules;
- :mod:`geo.patrols.coverage` measures, per reach, the length within a buffer of any
  valid track (EPSG:4549, STRtree + linear referencing, no pairwise loops);
- :mod:`geo.patrols.duty` counts each chief's valid patrols against their level's
  frequency and gives 巡河率 per level;
- :mod:`geo.patrols.importing` ties them to the registry (``hehu patrols import``);
- :mod:`geo.patrols.settings` reads the ``patrols`` section of the plan file.
"""
