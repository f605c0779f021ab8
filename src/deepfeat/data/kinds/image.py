"""Images ``(C, H, W)``: pixels in [0, 1], normalized per channel, shown as a grid and measured with PSNR/SSIM."""

from deepfeat.data.kinds.base import IMAGE_GRID, MSE, PSNR, SSIM, DataKind, add_kind

IMAGE = add_kind(DataKind(
    name="image", layout="(N, C, H, W)", description="images (C, H, W), pixels in [0, 1]: one mean/std per channel",
    display_range=(0.0, 1.0), augment="image",
    # Crops stay mild (>= 60% of the area) and there are no flips or colour changes: a flipped digit or a
    # recoloured class cue changes the label.
    mild_augment={"name": "image", "crop_scale": [0.6, 1.0], "crop_ratio": [0.8, 1.25], "jitter": 0.0,
                  "grayscale_p": 0.0, "blur_p": 0.0},
    view=IMAGE_GRID, measures=frozenset({MSE, PSNR, SSIM}), spatial=True, generator_output="tanh", resizable=True,
))
