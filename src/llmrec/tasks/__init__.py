"""Tasks other than top-K ranking: rating prediction (explicit ratings, RMSE / MAE)."""
