# Builds both binaries; the compose file picks one per service.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/gateway ./cmd/gateway \
 && CGO_ENABLED=0 go build -trimpath -o /out/mockbank ./cmd/mockbank

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /out/mockbank /usr/local/bin/
COPY config/compose.yaml /etc/vagate/config.yaml
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gateway"]
