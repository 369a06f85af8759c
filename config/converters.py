from accounts.models import Category


class CategoryConverter:
    # A group, so that the OpenAPI pattern drf-spectacular derives ("^...$") anchors every choice.
    regex = "(?:" + "|".join(c.value for c in Category) + ")"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
