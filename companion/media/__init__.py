"""The live stream: one publisher per session (WHIP or the camera page), many viewers (WHEP).

The publisher's media is decoded once and encoded once per session (`broadcast`); every
viewer's sender gets the same encoded packets (`fanout`), so a viewer costs packetising
and encryption only. See docs/streaming.md.
"""
