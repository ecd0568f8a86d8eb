"""Benchmarks and scale data for the open locker network (issue 8).

`manage.py bench` starts the product under gunicorn on loopback against a dedicated
PostgreSQL database, prepares its data, drives the hot paths from a separate process
(`bench.driver`, aiohttp, the device signing code of `lockers.device.signing`) and prints
one line per path. `manage.py generate_scale_data` fills a database with a US-sized
network by COPY. See docs/performance.md.
"""
