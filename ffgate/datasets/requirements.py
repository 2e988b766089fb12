"""What Adobe documents about custom-model training sets, as numbers the checks use, each with its source.

Sources (Adobe's public help, read from stored copies of the pages; quotes are Adobe's):

[TRAIN] "Train Firefly Custom Models", helpx.adobe.com/firefly/web/work-with-enterprise-features/
    train-custom-models/train-firefly-custom-models.html (last updated Oct 1, 2025): "Drag and drop 10-30
    images to train the model"; "Aspect Ratio: Maximum of 16:9 / File Format: JPG or PNG / Resolution:
    Minimum of 1000 pixels"; "You will see errors if the images include issues such as low resolution";
    captions: "Notable parts of each training image are described using language similar to what you will
    prompt with, such as 'young woman wearing a green sundress and holding a seashell at the beach,
    photorealistic.'"
[TRAIN-2026] "How to train Firefly Custom Models", helpx.adobe.com/firefly/web/work-with-enterprise-features/
    train-custom-models/preview-and-test-custom-models.html (last updated Apr 18, 2026): the same 10-30
    images, 16:9 and JPG or PNG, and "Resolution: 2048 pixels or greater for best quality".
[BEST] "Best practices for creating custom models", helpx.adobe.com/firefly/web/work-with-enterprise-
    features/train-custom-models/best-practices-to-effectively-prepare-and-create-custom-models.html
    (last updated Oct 1, 2025): "Use JPG or PNG files"; "Choose at least 10-30 high-quality images";
    "Ensure that each image file size does not exceed 50 MB"; "Ensure the images have a resolution higher
    than 1024x1024 pixels with a maximum 16:9 aspect ratio for landscape or 9:16 for portrait"; "Capture a
    varied set of images"; to avoid: "Too many similar shots"; "exclude images that show a person or
    character off in the distance with a small face or body"; "Make sure your images don't include an
    unintentional pattern that you do not want, such as having a white background in every image"; "Use
    captions to enhance detail and train the custom models on concepts you want the model to generate."
[EL] Adobe Experience League, "Firefly Custom Models API" tutorial, experienceleague.adobe.com/en/docs/
    platform-learn/tutorial-one-adobe/production/crpr1/ex4, on subject models: "Keep the subject near the
    center of the image and make sure that it occupies at least 25% of the image's area."
[API] shared/research/firefly-api.md (the custom-models listing): for a model whose `trainingMode` is
    `subject`, "the `conceptId` must appear in the prompt"; with [TRAIN]'s "language similar to what you
    will prompt with", a subject set's captions should name the concept.
[SEED] The project's own brief (issue 13) for style sets: "avoid any fixed phrases" (e.g. "The background
    is solid black") repeated in every caption. No Adobe page found says this in those words; it follows
    from [BEST]'s "unintentional pattern" warning applied to captions.

Where Adobe gives no number, the value below says it is ours.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCES: dict[str, str] = {
    "TRAIN": "https://helpx.adobe.com/firefly/web/work-with-enterprise-features/train-custom-models/"
    "train-firefly-custom-models.html",
    "TRAIN-2026": "https://helpx.adobe.com/firefly/web/work-with-enterprise-features/train-custom-models/"
    "preview-and-test-custom-models.html",
    "BEST": "https://helpx.adobe.com/firefly/web/work-with-enterprise-features/train-custom-models/"
    "best-practices-to-effectively-prepare-and-create-custom-models.html",
    "EL": "https://experienceleague.adobe.com/en/docs/platform-learn/tutorial-one-adobe/production/crpr1/ex4",
    "API": "shared/research/firefly-api.md (custom models: trainingMode subject)",
    "SEED": "issue 13 (the project's brief): avoid fixed phrases in style captions",
}


@dataclass(frozen=True)
class Requirements:
    min_images: int = 10  # [TRAIN] "10-30 images"
    max_images: int = 30  # [TRAIN]
    formats: frozenset[str] = frozenset({"JPEG", "PNG"})  # [TRAIN] [BEST] "JPG or PNG"
    extensions: frozenset[str] = frozenset({".jpg", ".jpeg", ".png"})
    min_side_px: int = 1000  # [TRAIN] "Resolution: Minimum of 1000 pixels" (read as the shorter side)
    recommended_side_px: int = 1024  # [BEST] "higher than 1024x1024 pixels"
    best_side_px: int = 2048  # [TRAIN-2026] "2048 pixels or greater for best quality"
    max_aspect: float = 16 / 9  # [TRAIN] [BEST] 16:9 landscape, 9:16 portrait
    max_file_bytes: int = 50 * 1024 * 1024  # [BEST] "does not exceed 50 MB" (read as MiB)
    min_caption_words: int = 5  # ours: [TRAIN]'s example caption has 13 words
    duplicate_distance: int = 6  # ours: dHash bits (of 64) that may differ for a "near-duplicate"
    repeated_phrase_words: int = 3  # ours: the shortest phrase worth reporting
    repeated_phrase_share: float = 0.5  # ours: "most captions" = more than half of them
    min_subject_area: float = 0.25  # [EL] "occupies at least 25% of the image's area"
    max_centre_offset: float = 0.2  # ours: the subject's box centre within the middle 40% of each side


REQUIREMENTS = Requirements()
