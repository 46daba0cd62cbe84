from rest_framework.pagination import PageNumberPagination

from common.errors import ValidationFailed


class StandardPagination(PageNumberPagination):
    """Page-number pagination: ?page=N&page_size=M (at most 200 a page). A page_size that is
    not a positive integer is refused (400), not silently replaced by the default: the schema
    says it is an integer, and a caller who misspells it should hear so."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if values:
            raw = values[-1]
            if len(values) > 1 or not raw.isdigit() or int(raw) < 1:
                msg = f"page_size must be one positive integer (at most {self.max_page_size})."
                raise ValidationFailed(msg, errors={self.page_size_query_param: [msg]})
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] in ("page", self.page_size_query_param):
                parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters
