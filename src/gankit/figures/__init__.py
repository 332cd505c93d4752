"""How gankit draws: image grids, and plots of the 1-D and 2-D games over their true densities."""
