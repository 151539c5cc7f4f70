"""Money in API responses: kept as Decimal in the service, shown as a JSON number."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer

Amount = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
