"""minik8s kubectl: a kubectl-compatible client (printing, describe, commands)."""
