"""GB/T 28181 signalling (SIP over UDP and TCP): codec, digest, MANSCDP bodies, listener."""
