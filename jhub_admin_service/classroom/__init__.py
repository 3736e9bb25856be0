"""What a lesson needs: the teaching kernel's site packages, the example notebooks."""
