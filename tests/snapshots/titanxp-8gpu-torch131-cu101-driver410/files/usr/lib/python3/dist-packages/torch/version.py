__version__ = '1.3.1'
debug = False
cuda = '10.1.243'
