"""clearance: automatic criminal-record clearance from California DOJ bulk extracts.

Importing the package changes nothing in the process: the allocator settings for
batch commands are made by the command launcher (``clearance.__main__``).
"""

__version__ = "0.1.0"
