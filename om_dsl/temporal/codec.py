"""Big payloads compressed: a Temporal PayloadCodec (zlib) on every client and worker.

An order's workflow input (its plan snapshot and the catalog's plan.json),
its state and history as queries return them, and the installed base's
record of it grow with the order; past about 1,500 items the input alone
passed Temporal's 2 MB payload limit and the order was refused. JSON of an
order compresses about tenfold, so an order of 10,000 items fits.

Only payloads of COMPRESS_FROM bytes or more are compressed: small ones
(almost all: calls, answers, updates) stay as they are, readable by any
client, and a payload written before the codec decodes as it was. A
compressed payload is marked by its encoding, and decompressed at most to
MAX_PAYLOAD bytes (a payload that claims more is refused, not expanded).
"""

from __future__ import annotations

import asyncio
import dataclasses
import zlib
from typing import Sequence

import temporalio.common
import temporalio.converter
from temporalio.api.common.v1 import Payload

ENCODING = b"binary/zlib"
COMPRESS_FROM = 64 * 1024
IN_THREAD_FROM = 4 * 1024 * 1024  # a big order's parts: (de)compressed in a thread, not on the worker's event loop (zlib lets go of the GIL)
MAX_PAYLOAD = 256 * 1024 * 1024


class PayloadTooBig(ValueError):
    pass


class ZlibCodec(temporalio.converter.PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            data = p.SerializeToString()
            if len(data) < COMPRESS_FROM:
                out.append(p)
            else:
                packed = await asyncio.to_thread(zlib.compress, data, 6) if len(data) >= IN_THREAD_FROM else zlib.compress(data, 6)
                out.append(Payload(metadata={"encoding": ENCODING}, data=packed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            inflate = zlib.decompressobj()
            data = await asyncio.to_thread(inflate.decompress, p.data, MAX_PAYLOAD) if len(p.data) * 8 >= IN_THREAD_FROM else inflate.decompress(p.data, MAX_PAYLOAD)
            if inflate.unconsumed_tail:
                raise PayloadTooBig(f"a compressed payload holds more than {MAX_PAYLOAD // (1024 * 1024)} MB")
            inner = Payload()
            inner.ParseFromString(data)
            out.append(inner)
        return out


def binary(data: bytes) -> temporalio.common.RawValue:
    """Bytes as a payload of their own (`binary/plain`), past the JSON converter: an
    order's parts (temporal/parts.py) go so, compressed by the codec like any other."""
    return temporalio.common.RawValue(Payload(metadata={"encoding": b"binary/plain"}, data=data))


def data_converter() -> temporalio.converter.DataConverter:
    """The default converter with the codec: give it to every Client.connect of om's."""
    return dataclasses.replace(temporalio.converter.default(), payload_codec=ZlibCodec())
