"""Query functions: each takes `*, session`, never commits; the caller owns the transaction."""
