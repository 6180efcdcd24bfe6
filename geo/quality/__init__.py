"""Water quality: observations at the sections, GB 3838-2002 classes, the 优Ⅲ率 and the
monthly report (水质月报).

One module per concern: :mod:`~geo.quality.limits` (Table 1 from
``gb3838_2002.yaml``), :mod:`~geo.quality.classify` (vectorised single-factor rules),
:mod:`~geo.quality.parse` and :mod:`~geo.quality.importing` (lab sheets into the
registry), :mod:`~geo.quality.store` (the ``observations`` layer),
:mod:`~geo.quality.report` (classes per month and year, main pollutants),
:mod:`~geo.quality.page` (the A4 PDF), :mod:`~geo.quality.sheet` (table and XLSX),
:mod:`~geo.quality.chart` (the popup chart) and :mod:`~geo.quality.demo` (synthetic
2021 samples). See docs/quality.md.
"""
