"""The partner API (`/api/v1/`): carriers and retailers plug into the network here."""
