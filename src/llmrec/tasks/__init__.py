"""Tasks other than top-K recommendation over a graph: rating prediction (explicit ratings, RMSE / MAE)
and sequential recommendation (time-ordered histories, leave-one-out), with their seed loops."""
