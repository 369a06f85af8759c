from accounts.models import Category


class CategoryConverter:
    regex = "|".join(c.value for c in Category)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
