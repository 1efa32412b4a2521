"""Boot images: ZBI and BOOTFS formats, boards, kernel command lines, image assembly."""
