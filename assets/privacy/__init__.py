"""Privacy: deletion on request (PIPL) and the suppression list that keeps deleted people out."""
