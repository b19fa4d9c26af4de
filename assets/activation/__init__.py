"""Activation: audiences delivered to the tools marketers use, only for people whose consent
covers the audience's purpose, in each destination's own identifier format."""
