"""What Adobe documents per custom-model version (its spec, `AdobeDocs/ffs-firefly-api`
`static/firefly-api.json`, `GenerateImagesRequestV3`; shared/research/firefly-api.md §3.1 and
firefly-api-2026-12.md §1.1), written down once for the tests. The gateway (ffgate.upstream.versions) and the
emulator (emulator.validation) keep their own tables and share no code; both are tested against these."""

from __future__ import annotations

SIZE_PRESETS: dict[str, set[tuple[int, int]]] = {
    "image3_custom": {
        (2048, 2048), (1024, 1024), (2304, 1792), (1792, 2304), (2688, 1536),
        (2688, 1512), (1344, 768), (1344, 756), (1152, 896), (896, 1152),
    },
    "image4_custom": {(2048, 2048), (2304, 1792), (1792, 2304), (2688, 1536), (1440, 2560)},
}  # fmt: skip
# Accepted, ignored by Firefly: not sent upstream by the gateway, recorded by the emulator.
UNSUPPORTED_FIELDS: dict[str, set[str]] = {
    "image4_custom": {"negativePrompt", "visualIntensity"},
    "image3_custom": {"negativePrompt", "upsamplerType"},
}
