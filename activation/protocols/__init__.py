"""Integrations with the outside: MQTT broker (devices), signed webhooks (aggregators). No business decisions."""
