"""The Docker-socket sidecar: exports and restores of the product's volumes.

This package is the only user of the docker SDK in the product.  It offers
an enumerated set of operations over HTTP (see :mod:`.app`) and builds every
Docker request itself from the fixed templates of :mod:`.template`.
"""
