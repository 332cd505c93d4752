"""The game itself: players, losses and objectives, update schedules and the steps that run them."""
