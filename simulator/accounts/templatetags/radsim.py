from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "")


@register.filter
def humanise(value):
    """snake_case identifiers as words: has_finding -> has finding."""
    return str(value).replace("_", " ")
