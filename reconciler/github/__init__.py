"""A small GitHub REST client for the workflows: the plan comment, the reviewed plan's
artifact, labels, the drift issue and re-dispatching apply. The CLI layer reads the
token, the API URL and the repository from the environment and passes them in."""
