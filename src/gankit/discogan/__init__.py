"""DiscoGAN (Kim et al. 2017): learn a relation between two unpaired domains.

- ``game``: the two-domain game the trainer plays (``game.name = "discogan"``): the losses and
  the update step.
- ``scoring``: how good a learned map is: pixel error against a known relation, the MNIST
  classifier's accuracy on translated digits, the mode-to-mode assignment of the 2-D toy.
- ``translate``: load a trained run's generators and translate images, side by side.
"""
