"""The WhatsApp front door: webhook, conversations, outbox and the chat simulator."""
