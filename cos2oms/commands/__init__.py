# -*- coding: utf-8 -*-
"""The commands of ``python -m cos2oms``: one thin module each (``add_arguments(parser)``, ``run(args, ...)``)
over the pure parts in ``cos2oms``, on the shared skeleton in ``base``; ``cos2oms.__main__`` registers them."""
