"""Server-side media with aiortc and av (pre-call echo test, verdicts, synthetic tracks).

Empty until the degradation-ladder work: the first version relays signaling only, and call media
flows peer to peer between the two browsers.
"""
