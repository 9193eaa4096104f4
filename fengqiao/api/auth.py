"""POST /api/v1/auth/token/: an expiring API token (`fengqiao.security` ApiToken, ADR 0010) for a password and,
when the user must use one or has set one up, a second-factor code."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from fengqiao.security.services import tokens


class TokenSignInSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="TOTP code or recovery code; required when the user must use a second factor or has set one up",
    )
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="what the token is for (shown in token lists)"
    )


class TokenResponseSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="the API key, shown once: send it as `Authorization: Token <key>`")
    expires_at = serializers.DateTimeField()
    name = serializers.CharField()


class TokenErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class TokenView(APIView):
    """Issue an expiring API token. No session or token is needed (nor used) to ask for one."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_token_create",
        tags=["auth"],
        summary="Obtain an expiring API token",
        description=(
            "Signs in with `username` and `password` (failed attempts count towards the lockout) and, for users "
            "who must use a second factor or have set one up, `otp` (a TOTP code or a recovery code). Returns a "
            "new key, shown once, which expires after `FENGQIAO_API_TOKEN_DAYS` days. Staff whose password is older "
            "than `FENGQIAO_PASSWORD_MAX_AGE_DAYS` get 403 until they have changed it at the admin site."
        ),
        request=TokenSignInSerializer,
        responses={
            201: TokenResponseSerializer,
            400: OpenApiResponse(description="missing fields, wrong credentials or code, or locked out"),
            403: OpenApiResponse(
                TokenErrorSerializer,
                description="a second factor must be set up first, or (staff) an expired password changed first",
            ),
        },
        auth=[],
    )
    def post(self, request):
        serializer = TokenSignInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            token, key = tokens.issue_for_sign_in(
                request=request,
                username=data["username"],
                password=data["password"],
                code=data.get("otp", ""),
                name=data.get("name", ""),
            )
        except tokens.EnrolmentRequired as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        except ValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            return Response(detail, status=status.HTTP_400_BAD_REQUEST)
        body = TokenResponseSerializer({"key": key, "expires_at": token.expires_at, "name": token.name}).data
        return Response(body, status=status.HTTP_201_CREATED)
