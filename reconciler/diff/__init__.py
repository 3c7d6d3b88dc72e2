"""`reconcile diff`: what a change to specs/ adds, drops and modifies, per manifest."""
