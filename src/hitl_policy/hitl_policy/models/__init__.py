"""Policies: diffusion (DDPM/DDIM), implicit EBM (IBC), explicit ensemble BC."""
