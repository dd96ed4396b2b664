"""The marker's verdicts from the check query's row (pure)."""

from __future__ import annotations

from skewguard.catalog_marker import CATALOGS, CatalogMarker, advanced, check_args

MARKER = CatalogMarker(
    xmax=(1 << 32) + 5, xip=frozenset({(1 << 32) + 3}), counts=(7,) * len(CATALOGS)
)


def _row(xmax: int, xip: list[int], stats: list[str] | None) -> dict[str, object]:
    return {"xmax": str(xmax), "xip": [str(x) for x in xip], "stats": stats}


def test_quiet_moves_the_marker_forward() -> None:
    moved = advanced(MARKER, _row(MARKER.xmax, sorted(MARKER.xip), None))
    assert moved == MARKER


def test_ended_transactions_without_catalog_rows_move_it() -> None:
    moved = advanced(MARKER, _row(MARKER.xmax + 9, [], ["7:0"] * len(CATALOGS)))
    assert moved == CatalogMarker(MARKER.xmax + 9, frozenset(), MARKER.counts)


def test_a_new_row_or_a_lost_row_in_any_catalog_is_a_change() -> None:
    for i in range(len(CATALOGS)):
        new = ["7:0"] * len(CATALOGS)
        new[i] = "7:1"
        assert advanced(MARKER, _row(MARKER.xmax + 1, [], new)) is None
        lost = ["7:0"] * len(CATALOGS)
        lost[i] = "6:0"
        assert advanced(MARKER, _row(MARKER.xmax + 1, [], lost)) is None


def test_xmin_is_compared_in_the_32_bit_space() -> None:
    xmax, xip, xmax32, xip32 = check_args(MARKER)
    assert (xmax, xip) == (str((1 << 32) + 5), [str((1 << 32) + 3)])
    assert (xmax32, xip32) == ("5", ["3"])
