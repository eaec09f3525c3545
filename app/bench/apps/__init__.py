"""The apps the benchmark compares the comments API with, all served by gunicorn like it.

ceiling.py: a constant answer; reference.py: the original API in memory (Flask); peer.py: the API
with Flask-SQLAlchemy's ORM; floor.py: a bare WSGI callable with one psycopg statement per request.
"""
