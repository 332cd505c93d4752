"""The 2014 paper made visible: the theory of section 4, Figure 1 and Figures 2-3."""
