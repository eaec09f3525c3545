"""The benchmark's reference apps: (a) a constant-answer WSGI ceiling, (b) the original API in memory."""
