"""gunicorn settings for the search service (`make serve`, the load benchmarks and their tests).

    gunicorn --config deploy/gunicorn.conf.py --workers 2 --threads 4 --bind 127.0.0.1:8000 'service:create_app()'
"""
accesslog = "-"
timeout = 60
