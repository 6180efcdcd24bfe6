"""hehu's test suite (a regular package, so that ``tests.common`` and friends are this
folder's modules even when an installed distribution ships a top-level ``tests``
package, as pygeoapi 0.21 does)."""
