"""Operations: health, Prometheus metrics, request ids and structured logs (docs/operations.md)."""
