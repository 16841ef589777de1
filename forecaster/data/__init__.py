"""Data: sources (the only code that touches the network or your files), frame validation,
selection of what a config names (`select`), split / transform / scale (`prepare`), several
series laid end to end (`panel`) and the windows over them (`windows`)."""
