"""What the console decides by itself, in plain Python: how a step is said in words, how a step's form is
laid out from the API's own schema, how a filled form becomes the step's body. No domain rule of a case."""
